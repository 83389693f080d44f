/**
 * `npm run bench`: starts each target on loopback, drives the same workloads against each with
 * one load generator, and writes a Markdown table, JSON and an SVG chart.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { LoadGenerator } from './load/load-generator.js';
import {
  type BenchOptions,
  parseOptions,
  TARGET_WORKLOADS,
  USAGE,
  type WorkloadName,
} from './options.js';
import { type BenchReport, problems, ratios, type TargetResults } from './report/bench-report.js';
import { latencyChart } from './report/latency-chart.js';
import { describeMachine } from './report/machine.js';
import { markdownTable } from './report/markdown-table.js';
import { Progress } from './report/progress.js';
import { REPO_ROOT } from './shared/repo-root.js';
import { startClusterTarget, startClusterWithoutHistoryTarget } from './targets/cluster-target.js';
import { retryOnPortClash } from './targets/local-process.js';
import { startSingleTarget } from './targets/single-target.js';
import type { Target } from './targets/target.js';
import { urlTarget } from './targets/url-target.js';
import { startWsRawTarget } from './targets/ws-raw-target.js';
import { authCost } from './workloads/auth-cost.js';
import { connect } from './workloads/connect.js';
import { crowd } from './workloads/crowd.js';
import { fanout } from './workloads/fanout.js';
import { idleMemory } from './workloads/idle-memory.js';
import { rooms } from './workloads/rooms.js';
import { saturation } from './workloads/saturation.js';
import { storm } from './workloads/storm.js';
import type { WorkloadContext } from './workloads/workload-context.js';

const STARTERS: Record<string, (options: BenchOptions) => Promise<Target>> = {
  cluster: startClusterTarget,
  'cluster-no-history': startClusterWithoutHistoryTarget,
  single: startSingleTarget,
  'ws-raw': startWsRawTarget,
  url: async (options) => urlTarget(options.url ?? '', options.jwtSecret),
};

async function runWorkload(name: WorkloadName, context: WorkloadContext, results: TargetResults) {
  switch (name) {
    case 'idle':
      results.idle = await idleMemory(context);
      break;
    case 'connect':
      results.connect = await connect(context);
      break;
    case 'fanout':
      results.fanout = await fanout(context);
      break;
    case 'auth':
      results.auth = (await authCost(context)) ?? null;
      break;
    case 'saturation':
      results.saturation = await saturation(context);
      break;
    case 'rooms':
      results.rooms = (await rooms(context)) ?? null;
      break;
    case 'storm':
      results.storm = (await storm(context)) ?? null;
      break;
    case 'crowd':
      results.crowd = await crowd(context);
      break;
  }
}

async function main(): Promise<number> {
  let options: BenchOptions | 'help';
  try {
    options = parseOptions(process.argv.slice(2));
  } catch (error) {
    process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
    return 2;
  }
  if (options === 'help') {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  const startedAt = new Date();
  const generator = LoadGenerator.start(options.workers);
  const progress = new Progress(options.targets.length * options.workloads.length);
  const targets: TargetResults[] = [];
  try {
    for (const name of options.targets) {
      const starter = STARTERS[name];
      if (starter === undefined) throw new Error(`unknown target ${name}`);
      progress.start(`${name}: starting`);
      let target: Target;
      try {
        target = await retryOnPortClash(() => starter(options));
      } catch (error) {
        targets.push({ name, description: '', error: `did not start: ${String(error)}` });
        for (const _ of options.workloads) progress.finish();
        continue;
      }
      const results: TargetResults = { name, description: target.description };
      targets.push(results);
      try {
        for (const workload of options.workloads) {
          const only = TARGET_WORKLOADS[name];
          if (only !== undefined && !only.includes(workload)) {
            progress.finish();
            continue;
          }
          progress.start(`${name}: ${workload}`);
          const context = {
            target,
            generator,
            options,
            note: (text: string) => progress.note(text),
          };
          await runWorkload(workload, context, results);
          progress.finish();
        }
      } catch (error) {
        results.error = error instanceof Error ? error.message : String(error);
      } finally {
        await target.stop();
      }
    }
  } finally {
    progress.stop();
    await generator.stop();
  }

  const report: BenchReport = {
    startedAt: startedAt.toISOString(),
    durationS: Math.round((Date.now() - startedAt.getTime()) / 1000),
    options,
    machine: describeMachine(),
    targets,
    ratios: ratios(targets),
    problems: problems(targets),
  };
  const table = markdownTable(report);
  const out = resolve(REPO_ROOT, options.out);
  await mkdir(out, { recursive: true });
  const base = options.quick ? 'quick' : 'latest';
  const chartTitle = `Fan-out latency vs offered load, ${options.clients} clients (${report.machine.cores} cores)`;
  await writeFile(join(out, `${base}.json`), `${JSON.stringify(report, null, 2)}\n`);
  await writeFile(join(out, `${base}.md`), `${table}\n`);
  await writeFile(join(out, `${base}.svg`), latencyChart(targets, chartTitle));
  if (!options.quick) {
    // Every full run is also kept under its start time, locally (git-ignored): only latest.* is
    // committed.
    const stamp = report.startedAt.replace(/[:.]/g, '-');
    await mkdir(join(out, 'runs'), { recursive: true });
    await writeFile(join(out, 'runs', `${stamp}.json`), `${JSON.stringify(report, null, 2)}\n`);
  }

  process.stdout.write(`\n${table}\n\n`);
  process.stdout.write(
    `machine: ${report.machine.cpuModel}, ${report.machine.cores} cores; generator: ${options.workers} threads; ${report.durationS} s\n`,
  );
  process.stdout.write(`results: ${join(options.out, `${base}.{json,md,svg}`)}\n`);
  if (report.problems.length > 0) {
    process.stderr.write(`\nPROBLEMS:\n${report.problems.map((p) => `  - ${p}`).join('\n')}\n`);
    return 1;
  }
  return 0;
}

process.exitCode = await main();
