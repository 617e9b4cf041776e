import { BvEdgeError } from '../core/errors.ts';

/** Column means and SDs of a design matrix; constant columns get SD 1 so they standardise to 0. */
export interface Standardiser {
  mean: Float64Array;
  sd: Float64Array;
}

/** Ridge regression on standardised columns: y ≈ intercept + weights · z. */
export interface RidgeModel {
  standardiser: Standardiser;
  weights: Float64Array;
  intercept: number;
}

export function fitStandardiser(rows: readonly Float64Array[]): Standardiser {
  const columns = rows[0]!.length;
  const mean = new Float64Array(columns);
  const sd = new Float64Array(columns);
  for (const row of rows) for (let j = 0; j < columns; j++) mean[j]! += row[j]! / rows.length;
  for (const row of rows)
    for (let j = 0; j < columns; j++) sd[j]! += (row[j]! - mean[j]!) ** 2 / rows.length;
  for (let j = 0; j < columns; j++) {
    const value = Math.sqrt(sd[j]!);
    sd[j] = value > 1e-12 ? value : 1;
  }
  return { mean, sd };
}

export function standardise(row: Float64Array, standardiser: Standardiser): Float64Array {
  return row.map((value, j) => (value - standardiser.mean[j]!) / standardiser.sd[j]!);
}

/** Solves A x = b for a symmetric positive-definite A (row-major n × n) by Cholesky. */
export function solveSymmetric(matrix: Float64Array, rhs: Float64Array): Float64Array {
  const n = rhs.length;
  const lower = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j <= i; j++) {
      let sum = matrix[i * n + j]!;
      for (let k = 0; k < j; k++) sum -= lower[i * n + k]! * lower[j * n + k]!;
      if (i === j) {
        if (sum <= 0) {
          throw new BvEdgeError(
            'matrix_not_positive_definite',
            `Cholesky pivot ${i} is ${sum}; expected > 0.`,
            {
              value: sum,
            },
          );
        }
        lower[i * n + i] = Math.sqrt(sum);
      } else {
        lower[i * n + j] = sum / lower[j * n + j]!;
      }
    }
  }
  const forward = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    let sum = rhs[i]!;
    for (let k = 0; k < i; k++) sum -= lower[i * n + k]! * forward[k]!;
    forward[i] = sum / lower[i * n + i]!;
  }
  const solution = new Float64Array(n);
  for (let i = n - 1; i >= 0; i--) {
    let sum = forward[i]!;
    for (let k = i + 1; k < n; k++) sum -= lower[k * n + i]! * solution[k]!;
    solution[i] = sum / lower[i * n + i]!;
  }
  return solution;
}

/**
 * Fits ridge regression: standardises the columns, centres y, and solves
 * (ZᵀZ + λI) w = Zᵀ(y − ȳ). The intercept is ȳ and is not penalised.
 */
export function fitRidge(
  rows: readonly Float64Array[],
  targets: readonly number[],
  lambda: number,
): RidgeModel {
  const standardiser = fitStandardiser(rows);
  const z = rows.map((row) => standardise(row, standardiser));
  const p = z[0]!.length;
  const intercept = targets.reduce((sum, y) => sum + y, 0) / targets.length;
  const gram = new Float64Array(p * p);
  const moment = new Float64Array(p);
  z.forEach((row, i) => {
    const centred = targets[i]! - intercept;
    for (let a = 0; a < p; a++) {
      moment[a]! += row[a]! * centred;
      for (let b = 0; b < p; b++) gram[a * p + b]! += row[a]! * row[b]!;
    }
  });
  for (let a = 0; a < p; a++) gram[a * p + a]! += lambda;
  return { standardiser, weights: solveSymmetric(gram, moment), intercept };
}

/** Predicts one row; standardised values are clipped to ±zScoreLimit, as the fusion model does. */
export function predictRidge(model: RidgeModel, row: Float64Array, zScoreLimit = Infinity): number {
  const z = standardise(row, model.standardiser);
  return z.reduce((sum, value, j) => {
    const clipped = Math.min(zScoreLimit, Math.max(-zScoreLimit, value));
    return sum + clipped * model.weights[j]!;
  }, model.intercept);
}

/** Assigns rows to k folds of near-equal size, in an order given by `shuffle`. */
export function foldAssignments(count: number, folds: number, shuffle: () => number): number[] {
  const order = Array.from({ length: count }, (_, i) => i);
  for (let i = count - 1; i > 0; i--) {
    const j = Math.floor(shuffle() * (i + 1));
    [order[i], order[j]] = [order[j]!, order[i]!];
  }
  const assignment = new Array<number>(count);
  order.forEach((row, position) => (assignment[row] = position % folds));
  return assignment;
}

/** Returns out-of-fold predictions: each row predicted by a model fitted without its fold. */
export function crossValidatedPredictions(
  rows: readonly Float64Array[],
  targets: readonly number[],
  lambda: number,
  assignment: readonly number[],
  zScoreLimit = Infinity,
): number[] {
  const folds = Math.max(...assignment) + 1;
  const predictions = new Array<number>(rows.length);
  for (let fold = 0; fold < folds; fold++) {
    const train = rows.flatMap((_, i) => (assignment[i] === fold ? [] : [i]));
    const model = fitRidge(
      train.map((i) => rows[i]!),
      train.map((i) => targets[i]!),
      lambda,
    );
    rows.forEach((row, i) => {
      if (assignment[i] === fold) predictions[i] = predictRidge(model, row, zScoreLimit);
    });
  }
  return predictions;
}

export function rootMeanSquare(values: readonly number[]): number {
  return Math.sqrt(values.reduce((sum, value) => sum + value * value, 0) / values.length);
}

/** Coefficient of determination 1 − SSres / SStot of predictions against targets. */
export function coefficientOfDetermination(
  targets: readonly number[],
  predictions: readonly number[],
): number {
  const mean = targets.reduce((sum, y) => sum + y, 0) / targets.length;
  const residual = targets.reduce((sum, y, i) => sum + (y - predictions[i]!) ** 2, 0);
  const total = targets.reduce((sum, y) => sum + (y - mean) ** 2, 0);
  return 1 - residual / total;
}
