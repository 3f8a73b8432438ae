// `node -r ./toolchain/register-compile-cache.js`: .ts files load through the compile cache (compile-cache.js).
"use strict";
require("./compile-cache").register();
