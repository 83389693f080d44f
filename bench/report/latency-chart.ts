import * as echarts from 'echarts';
import type { TargetResults } from './bench-report.js';

const COLORS: Record<string, string> = {
  cluster: '#2f6fde',
  single: '#1f9d55',
  'ws-raw': '#d98a00',
  url: '#8a4fd6',
};

/**
 * Latency percentiles against offered load (the saturation ramp), one colour per target: p99 solid,
 * p50 dashed. Rendered server-side by ECharts to an SVG string.
 */
export function latencyChart(targets: TargetResults[], title: string): string {
  const chart = echarts.init(null, null, { renderer: 'svg', ssr: true, width: 860, height: 460 });
  const series = targets.flatMap((target) => {
    const steps = [...(target.saturation?.steps ?? [])].sort((a, b) => a.rate - b.rate);
    const color = COLORS[target.name] ?? '#555';
    return (['p99', 'p50'] as const).map((percentile) => ({
      name: `${target.name} ${percentile}`,
      type: 'line' as const,
      symbolSize: 7,
      lineStyle: {
        color,
        type: percentile === 'p99' ? ('solid' as const) : ('dashed' as const),
        width: 2,
      },
      itemStyle: { color },
      data: steps.map((step) => [
        step.offeredDeliveriesPerSec,
        Math.max(0.1, step.latency[percentile]),
      ]),
    }));
  });
  chart.setOption({
    animation: false,
    backgroundColor: '#ffffff',
    title: { text: title, left: 'center', top: 8, textStyle: { fontSize: 15 } },
    legend: { top: 40 },
    grid: { left: 70, right: 40, top: 90, bottom: 60 },
    xAxis: {
      type: 'log',
      name: 'offered deliveries/s (clients × msgs/s)',
      nameLocation: 'middle',
      nameGap: 35,
    },
    yAxis: { type: 'log', name: 'latency ms', nameLocation: 'middle', nameGap: 50 },
    series,
  });
  const svg = chart.renderToSVGString();
  chart.dispose();
  return svg;
}
