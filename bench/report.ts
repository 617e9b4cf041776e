/** Markdown for BENCHMARKS.md, built section by section and printed as each one finishes. */

export type Cell = string | number;

export class Report {
  private readonly parts: string[] = [];

  /** Adds a block of markdown and prints it. */
  add(markdown: string): void {
    const block = markdown.trimEnd();
    this.parts.push(block);
    process.stdout.write(`${block}\n\n`);
  }

  heading(text: string): void {
    this.add(`## ${text}`);
  }

  paragraph(text: string): void {
    this.add(text);
  }

  table(headers: readonly string[], rows: readonly (readonly Cell[])[]): void {
    const line = (cells: readonly Cell[]): string => `| ${cells.map(String).join(' | ')} |`;
    const rule = `|${headers.map(() => '---|').join('')}`;
    this.add([line(headers), rule, ...rows.map(line)].join('\n'));
  }

  /** Records that a figure could not be measured, with the reason. */
  skipped(what: string, reason: string): void {
    this.add(`Skipped: ${what}: ${reason}`);
  }

  toMarkdown(): string {
    return `${this.parts.join('\n\n')}\n`;
  }
}

/** Runs one section; an error becomes a "Skipped" line so that the other sections still run. */
export async function section(
  report: Report,
  title: string,
  body: () => Promise<void>,
): Promise<void> {
  report.heading(title);
  const started = performance.now();
  try {
    await body();
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    report.skipped(title, message.split('\n')[0] ?? message);
  }
  const seconds = ((performance.now() - started) / 1000).toFixed(0);
  process.stderr.write(`bench: ${title} took ${seconds} s\n`);
}
