// The dashboard's build: one page under /ui/ (the gateway serves ui/dist there), every asset bundled, nothing fetched from elsewhere.
import { defineConfig } from "vite";

export default defineConfig({
  base: "/ui/",
  build: {
    outDir: "dist",
    emptyOutDir: true,
    // One entry chunk: the preload polyfill would only add code.
    modulePreload: { polyfill: false },
    // Assets as files, never data: URLs, so the page's CSP can stay at 'self'.
    assetsInlineLimit: 0,
  },
});
