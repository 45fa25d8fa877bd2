// Browsers cannot be downloaded where this project is built: skip puppeteer's download on install.
// The pipeline finds a browser itself (see pipeline/lib/find-browser.ts).
/** @type {import("puppeteer").Configuration} */
module.exports = { skipDownload: true };
