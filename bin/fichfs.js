#!/usr/bin/env node
// The compiled CLI lives in dist/ (npm run build); this stub keeps the bin path stable.
import '../dist/cli/index.js'
