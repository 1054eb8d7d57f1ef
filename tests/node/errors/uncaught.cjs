// The same in CommonJS. Line 6 is the caller's.
const { AvitoAuth } = require("avito-auth");

async function checkCredentials() {
  const auth = new AvitoAuth({ clientId: "demo-client", clientSecret: "not-the-secret-4711", host: process.argv[2], retries: false });
  await auth.clientCredentials();
}
checkCredentials();
