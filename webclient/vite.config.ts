/// <reference types="vitest/config" />
import { defineConfig } from "vite";
import preact from "@preact/preset-vite";

// The build lands in dist/, which Hearth serves at "/". Hashed file names under
// assets/ let the server mark them immutable; index.html is never cached.
export default defineConfig({
  plugins: [preact()],
  base: "./",
  build: {
    outDir: "dist",
    emptyOutDir: true,
    target: "es2022",
    sourcemap: false,
    // The Rust crypto wasm (~5 MB) is loaded by URL, never inlined.
    assetsInlineLimit: 0,
    chunkSizeWarningLimit: 2000,
  },
  server: {
    // `npm run dev`: the page's origin is the dev server, so send the API to Hearth.
    proxy: { "/_matrix": "http://localhost:8008", "/.well-known": "http://localhost:8008" },
  },
  test: {
    environment: "jsdom",
    include: ["test/**/*.test.ts", "test/**/*.test.tsx"],
  },
});
