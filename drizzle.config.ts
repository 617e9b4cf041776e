import { defineConfig } from 'drizzle-kit';

// Only `npx drizzle-kit generate` reads this file. The daemon applies the generated SQL itself
// when it opens the database.
export default defineConfig({
  dialect: 'sqlite',
  schema: './src/store/schema.ts',
  out: './src/store/migrations',
});
