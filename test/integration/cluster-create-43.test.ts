/**
 * cluster create, a second create and status on real RabbitMQ 4.3.6 nodes (Debian forky's own
 * rabbitmq-server in lab hosts of that release; lab `fk`). Needs root; the forky tree is built first
 * if missing. Run: flock /tmp/warren-labtest.lock npx vitest run test/integration/cluster-create-43.test.ts
 */
import { describeCreateOn } from './create-on-release.js';

describeCreateOn({ release: 'forky', labName: 'fk', rabbitmqVersion: '4.3.6', metadataStore: 'khepri' });
