import { defineConfig } from 'vite';

/**
 * The web app (web/), built into dist/web for the router to serve at `/`. JSX is Preact's,
 * compiled by Vite's own transformer from web/tsconfig.json. Nothing is loaded from
 * elsewhere at run time: the Content-Security-Policy allows only this origin.
 */
export default defineConfig({
  root: import.meta.dirname,
  base: '/',
  // Vite would otherwise read the project's .env files and print its banner.
  envDir: false,
  logLevel: 'warn',
  build: {
    outDir: '../dist/web',
    emptyOutDir: true,
    target: 'es2022',
    // The polyfill would be an inline script, which the CSP refuses.
    modulePreload: { polyfill: false },
    reportCompressedSize: false,
  },
});
