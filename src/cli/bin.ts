#!/usr/bin/env node
import { main } from './main.js';
import { terminalText } from '../untrusted-text.js';
import { messageOf } from '../errors.js';

main(process.argv).then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`${terminalText((error instanceof Error ? error.stack : undefined) ?? messageOf(error))}\n`);
    process.exit(1);
  },
);
