// The package version, read once (the CLI's --version, the stream's hello, the tracer_info metric).
export const VERSION: string = String(require('../../package.json').version);
