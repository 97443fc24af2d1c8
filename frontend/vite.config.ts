// Vite build, dev server (proxying the API) and Vitest configuration in one place.
import react from '@vitejs/plugin-react';
import { defineConfig } from 'vitest/config';

const apiTarget = process.env.CHATSTREAM_API_URL ?? 'http://127.0.0.1:8000';

export default defineConfig({
  plugins: [react()],
  server: {
    port: 5173,
    // The dev server forwards the API (SSE included) so the browser sees one origin, as in production.
    proxy: { '/api': { target: apiTarget } },
  },
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    // No data: URIs: the server's Content-Security-Policy allows only same-origin resources.
    assetsInlineLimit: 0,
    sourcemap: false,
  },
  test: {
    environment: 'jsdom',
    setupFiles: ['./src/test/setup.ts'],
    include: ['src/**/*.test.{ts,tsx}'],
    css: { modules: { classNameStrategy: 'non-scoped' } },
    // Two cores: one worker per core, no watch.
    pool: 'threads',
    maxWorkers: 2,
    minWorkers: 1,
    testTimeout: 20_000,
    restoreMocks: true,
  },
});
