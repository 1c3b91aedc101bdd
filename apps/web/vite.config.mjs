// The browser app's build (`npm run build:web`, part of `npm run build`): dist/web, served by the gateway and
// by `npm start` (WEB_APP). The three libs resolve to their sources, as everywhere in the monorepo, so the app
// always ships the SDK of this commit. `npx vite --config apps/web/vite.config.mjs` serves it with hot reload,
// proxying the API and sockets to a Chorus on localhost:3000 (`npm start`).
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

const here = (p) => fileURLToPath(new URL(p, import.meta.url));

export default defineConfig({
  root: here('.'),
  base: '/',
  clearScreen: false,
  resolve: {
    alias: {
      // Before '@chorus/client' (aliases match by prefix): the SDK's Yjs entry, the provider the app's Yjs editor uses.
      '@chorus/client/yjs': here('../../libs/client/src/yjs.ts'),
      '@chorus/client': here('../../libs/client/src/index.ts'),
      '@chorus/protocol': here('../../libs/protocol/src/index.ts'),
      '@chorus/ot': here('../../libs/ot/src/index.ts'),
    },
  },
  build: { outDir: here('../../dist/web'), emptyOutDir: true, sourcemap: true, target: 'es2022', chunkSizeWarningLimit: 1024 },
  server: {
    proxy: {
      '/api': 'http://localhost:3000',
      '/socket.io': { target: 'ws://localhost:3000', ws: true },
    },
  },
});
