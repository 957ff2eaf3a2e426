// `next start` for the test harness, which runs one script with PORT in its environment (Next.js reads PORT).
process.argv.splice(2, 0, 'start');
process.chdir(new URL('.', import.meta.url).pathname);
await import('next/dist/bin/next');
