// The workspace's scripts: small enhancements on server-rendered pages, which work without them.
"use strict";
