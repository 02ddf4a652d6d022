#!/usr/bin/env -S node --openssl-legacy-provider --max-semi-space-size=2 --liftoff-only --v8-pool-size=1
// The compiled CLI lives in dist/ (npm run build); this stub keeps the bin path stable.
// The Node flags above are the daemon's (src/cli/launcher.ts reads them for every other way of
// starting it; README "Memory" says what they do): OpenSSL's legacy provider for native
// Whirlpool, a small young generation (semi-space, in MiB) for a lower, steadier RSS, and
// WebAssembly (undici's HTTP parser) kept at its baseline compiler: no optimizing compile of it
// in the background, which took ~30 MiB for a moment right after every mount; and one V8
// background thread instead of four (concurrent marking and compiles): fewer threads' stacks
// and malloc arenas, and no four threads contending for two cores with the FUSE thread.
import '../dist/cli/index.js'
