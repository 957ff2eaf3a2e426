const UNITS: Array<[number, string]> = [
  [86_400_000, 'day'],
  [3_600_000, 'hour'],
  [60_000, 'minute'],
  [1000, 'second'],
];

/** "3 minutes" (a duration; under a second reads "0 seconds"). */
export function duration(ms: number): string {
  const abs = Math.abs(ms);
  for (const [size, unit] of UNITS) {
    if (abs >= size || size === 1000) {
      const n = Math.floor(abs / size);
      return `${n} ${unit}${n === 1 ? '' : 's'}`;
    }
  }
  return '';
}

/** Local date and time, to the second. */
export const clock = (epochMs: number) => new Date(epochMs).toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'medium' });

export const timeOfDay = (epochMs: number) => new Date(epochMs).toLocaleTimeString(undefined, { timeStyle: 'medium' });
