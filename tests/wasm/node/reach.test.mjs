// tests/wasm/reach/scenarios.mjs (cursors, LISTEN/NOTIFY, COPY, AbortSignal,
// hostile use) in Node, over node:net and over the WebSocket tunnel.
import { describe, test } from 'node:test';
import * as edgepg from 'edgepg';
import { scenarios } from '../reach/scenarios.mjs';
import { url, tunnel, direct } from './helpers.mjs';

const transports = { nodesocket: () => direct(), tunnel };

for (const [via, transport] of Object.entries(transports)) {
  describe(`reach over ${via}`, () => {
    for (const [name, run] of Object.entries(scenarios)) {
      test(name, async () => {
        const figures = await run(edgepg, { connectionString: url, transport: transport() });
        console.log(`# reach ${via} ${name}: ${JSON.stringify(figures)}`);
      });
    }
  });
}
