import { BffMetrics, METRIC_LABELS } from '../../bff/src/observability/metrics.js';
import { table } from './markdown.js';

interface RegisteredMetric {
  name: string;
  help: string;
  labelNames: readonly string[];
  get(): Promise<{ type: string }>;
}

/** Every metric of the BFF's registry: name, type, each label with every value the code writes (METRIC_LABELS), help. */
export async function metricsTable(): Promise<string> {
  const metrics = new BffMetrics();
  const rows: string[][] = [];
  for (const metric of metrics.registry.getMetricsAsArray() as unknown as RegisteredMetric[]) {
    const { type } = await metric.get();
    const values = (METRIC_LABELS as Record<string, Record<string, readonly string[]>>)[metric.name];
    const missing = metric.labelNames.filter((label) => values?.[label] === undefined);
    if (missing.length > 0) throw new Error(`${metric.name}: label ${missing.join(', ')} has no values in METRIC_LABELS`);
    const labels = metric.labelNames.map((label) => `\`${label}\`: ${values![label]!.map((v) => `\`${v}\``).join(', ')}`);
    rows.push([`\`${metric.name}\``, type, labels.join('; '), metric.help]);
  }
  return table(['metric', 'type', 'labels and their values', 'help'], rows);
}
