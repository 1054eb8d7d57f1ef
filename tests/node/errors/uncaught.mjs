// An uncaught ApiException, as a new user meets it (wrong client secret). Line 6 is the caller's.
import { AvitoAuth } from "avito-auth";

async function checkCredentials() {
  const auth = new AvitoAuth({ clientId: "demo-client", clientSecret: "not-the-secret-4711", host: process.argv[2], retries: false });
  await auth.clientCredentials();
}
await checkCredentials();
