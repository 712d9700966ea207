/**
 * cluster create, a second create and status on real RabbitMQ 4.0.5 nodes (Debian trixie's own
 * rabbitmq-server in lab hosts of that release; lab `tx`). Needs root; the trixie tree is built first
 * if missing. Run: flock /tmp/warren-labtest.lock npx vitest run test/integration/cluster-create-40.test.ts
 */
import { describeCreateOn } from './create-on-release.js';

describeCreateOn({ release: 'trixie', labName: 'tx', rabbitmqVersion: '4.0.5', metadataStore: 'mnesia' });
