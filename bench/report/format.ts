// Numbers as the report prints them: enough digits to compare, no more.

export function formatNumber(value: number, unit = ""): string {
  if (!Number.isFinite(value)) return "–";
  if (unit === "×" || unit === "") return significant(value, 3);
  const abs = Math.abs(value);
  if (abs >= 1000) return Math.round(value).toLocaleString("en-US");
  if (abs >= 100) return value.toFixed(0);
  if (abs >= 10) return value.toFixed(1);
  return significant(value, 3);
}

function significant(value: number, digits: number): string {
  if (value === 0) return "0";
  const abs = Math.abs(value);
  if (abs >= 10 ** digits) return Math.round(value).toLocaleString("en-US");
  const decimals = Math.max(0, digits - 1 - Math.floor(Math.log10(abs)));
  return value.toFixed(Math.min(decimals, 6));
}

export function formatWithUnit(value: number, unit: string): string {
  const n = formatNumber(value, unit);
  if (unit === "×") return `${n}×`;
  return unit ? `${n} ${unit}` : n;
}

export function formatRange(min: number, max: number, unit: string): string {
  return `${formatNumber(min, unit)}–${formatNumber(max, unit)}`;
}
