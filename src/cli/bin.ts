#!/usr/bin/env node
import { main } from './main.js';
import { terminalText } from '../untrusted-text.js';

main(process.argv).then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`${terminalText((error as Error).stack ?? String(error))}\n`);
    process.exit(1);
  },
);
