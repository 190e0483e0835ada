// Dockerfile highlighting for the book. mdBook 0.5.4 bundles highlight.js
// 10.1.1 without its Dockerfile grammar, so ```dockerfile blocks would stay
// plain. The grammar below is highlight.js's own `dockerfile` language module,
// vendored unchanged from Debian's node-highlight.js 9.18.5+dfsg1-2
// (lib/languages/dockerfile.js). Its `RUN`/`CMD` lines are highlighted as bash,
// which the bundled highlight.js has.
//
// highlight.js: Copyright (c) 2006, Ivan Sagalaev and the highlight.js
// contributors. BSD 3-Clause License: redistribution and use in source and
// binary forms, with or without modification, are permitted provided that
// the copyright notice, this list of conditions and the disclaimer are
// retained; the names of the copyright holders may not be used to endorse
// derived products. THIS SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF
// ANY KIND. Full text: https://github.com/highlightjs/highlight.js/blob/main/LICENSE
(function () {
  "use strict";
  if (typeof hljs === "undefined") return;
  hljs.registerLanguage("dockerfile", function (hljs) {
    return {
      aliases: ['docker'],
      case_insensitive: true,
      keywords: 'from maintainer expose env arg user onbuild stopsignal',
      contains: [
        hljs.HASH_COMMENT_MODE,
        hljs.APOS_STRING_MODE,
        hljs.QUOTE_STRING_MODE,
        hljs.NUMBER_MODE,
        {
          beginKeywords: 'run cmd entrypoint volume add copy workdir label healthcheck shell',
          starts: {
            end: /[^\\]$/,
            subLanguage: 'bash'
          }
        }
      ],
      illegal: '</'
    };
  });
  // book.js has already run highlight.js over every block (this file is
  // loaded after it), leaving these plain: highlight them now.
  document.querySelectorAll("code.language-dockerfile").forEach(function (block) {
    block.textContent = block.textContent;
    hljs.highlightBlock(block);
  });
})();
