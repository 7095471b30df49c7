// Builds the browser assets the hub serves:
//   static/sdk/replayhub.js (+ .map)   the recorder snippet (IIFE, minified)
//   static/player/rrweb-player.js      rrweb-player UMD build (global `rrwebPlayer`)
//   static/player/style.css            rrweb-player styles
// Run with `npm run build` from the repository root.
import { build } from "esbuild";
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const staticDir = join(here, "..", "static");
const root = join(here, "..", "..", "..", "..");

mkdirSync(join(staticDir, "sdk"), { recursive: true });
mkdirSync(join(staticDir, "player"), { recursive: true });

await build({
  entryPoints: [join(here, "replayhub.src.js")],
  outfile: join(staticDir, "sdk", "replayhub.js"),
  bundle: true,
  format: "iife",
  minify: true,
  sourcemap: true,
  target: ["es2017"],
  legalComments: "none",
  logLevel: "info",
});

// rrweb-player ships ready-made builds; copy the minified UMD one so a plain
// <script> tag defines window.rrwebPlayer, plus its stylesheet.
const playerDist = join(root, "node_modules", "rrweb-player", "dist");
const umd = readFileSync(join(playerDist, "rrweb-player.umd.min.cjs"), "utf8").replace(
  /\/\/# sourceMappingURL=rrweb-player\.umd\.min\.cjs\.map\s*$/,
  "//# sourceMappingURL=rrweb-player.js.map\n",
);
writeFileSync(join(staticDir, "player", "rrweb-player.js"), umd);
copyFileSync(join(playerDist, "rrweb-player.umd.min.cjs.map"), join(staticDir, "player", "rrweb-player.js.map"));
copyFileSync(join(playerDist, "style.css"), join(staticDir, "player", "style.css"));
console.log("copied rrweb-player into", join("static", "player"));

// The snapshot renderer's page loads rrweb's own UMD build (global `rrweb`, with Replayer).
const rrwebDist = join(root, "node_modules", "rrweb", "dist");
mkdirSync(join(staticDir, "render"), { recursive: true });
const rrwebUmd = readFileSync(join(rrwebDist, "rrweb.umd.min.cjs"), "utf8").replace(
  /\/\/# sourceMappingURL=\S+\s*$/,
  "\n",
);
writeFileSync(join(staticDir, "render", "rrweb.js"), rrwebUmd);
console.log("copied rrweb into", join("static", "render"));
