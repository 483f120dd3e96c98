// Baseline and subject take turns: a discarded warm-up of each, then rounds in
// which the order rotates, so neither side always runs on a colder cache or a
// busier neighbour. Each side is a function of the round (for fresh names).

export interface RoundPlan {
  readonly warmup: number;
  readonly rounds: number;
}

export interface RoundInfo {
  /** Counts every round, warm-up included, so names built from it never repeat. */
  readonly index: number;
  readonly warmup: boolean;
}

export type Contenders<T> = Readonly<Record<string, (round: RoundInfo) => Promise<T>>>;

export async function interleave<T>(
  plan: RoundPlan,
  contenders: Contenders<T>,
  progress: (line: string) => void = () => {},
): Promise<Record<string, T[]>> {
  const names = Object.keys(contenders);
  const results: Record<string, T[]> = Object.fromEntries(names.map((n) => [n, []]));
  const total = plan.warmup + plan.rounds;
  for (let index = 0; index < total; index++) {
    const warmup = index < plan.warmup;
    const measured = index - plan.warmup;
    const shift = warmup ? 0 : measured % names.length;
    const order = [...names.slice(shift), ...names.slice(0, shift)];
    for (const name of order) {
      const result = await contenders[name]!({ index, warmup });
      if (!warmup) results[name]!.push(result);
      progress(`${warmup ? "warm-up" : `round ${measured + 1}/${plan.rounds}`} ${name}: ${describe(result)}`);
    }
  }
  return results;
}

function describe(result: unknown): string {
  if (typeof result === "number") return Number.isInteger(result) ? String(result) : result.toPrecision(4);
  return JSON.stringify(result, (_k, v) => (typeof v === "number" && !Number.isInteger(v) ? Number(v.toPrecision(4)) : v));
}
