/**
 * The scale benchmark's inventory: the lab's hosts (from the warren.yaml that `lab.sh up` writes,
 * host keys pinned) cut into clusters of `size` consecutive hosts, `<lab>-c01`, `<lab>-c02`, …
 *
 *   npx tsx bench/scale/make-config.ts LAB_CONFIG OUT [CLUSTERS] [SIZE]   (default 10 × 3)
 *
 * Refuses a lab with fewer hosts than CLUSTERS × SIZE. The result is checked with warren's own
 * loader, so a config the workers would refuse fails here first.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { parse, stringify } from 'yaml';
import { loadConfig } from '../../src/config/load.js';

interface LabConfig {
  ssh?: unknown;
  hosts: { name: string }[];
  clusters: { name: string }[];
}

const [labConfigPath, outPath, clustersArg = '10', sizeArg = '3'] = process.argv.slice(2);
if (labConfigPath === undefined || outPath === undefined) {
  process.stderr.write('usage: make-config.ts LAB_CONFIG OUT [CLUSTERS] [SIZE]\n');
  process.exit(2);
}
const clusters = Number(clustersArg);
const size = Number(sizeArg);
if (!Number.isInteger(clusters) || clusters < 1 || !Number.isInteger(size) || size < 1) {
  process.stderr.write(`CLUSTERS and SIZE must be whole numbers >= 1: ${clustersArg} ${sizeArg}\n`);
  process.exit(2);
}

const lab = parse(await readFile(labConfigPath, 'utf8')) as LabConfig;
// The lab's one cluster is named after the lab (LAB_NAME), so are ours.
const labName = lab.clusters[0]?.name ?? 'lab';
if (lab.hosts.length < clusters * size) {
  process.stderr.write(
    `${labConfigPath} has ${lab.hosts.length} hosts; ${clusters} clusters of ${size} need ${clusters * size}\n`,
  );
  process.exit(2);
}

const config = {
  ssh: lab.ssh,
  hosts: lab.hosts,
  clusters: Array.from({ length: clusters }, (_, k) => {
    const nodes = lab.hosts.slice(k * size, (k + 1) * size).map((h) => h.name);
    return { name: `${labName}-c${String(k + 1).padStart(2, '0')}`, nodes, seed: nodes[0] };
  }),
};
await writeFile(
  outPath,
  `# scale benchmark: ${clusters} clusters of ${size} from ` +
    `${labConfigPath} (bench/scale/make-config.ts)\n${stringify(config)}`,
);
await loadConfig(outPath);
process.stdout.write(`${config.clusters.map((c) => c.name).join(' ')}\n`);
