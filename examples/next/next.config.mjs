/** @type {import('next').NextConfig} */
export default {
  // The BFF (Express, ioredis, pino) runs as a Node package, required at run time rather than bundled.
  serverExternalPackages: ['@latchkey/bff'],
};
