// The CommonJS view of the same types (require condition → index.d.cts).
import avito = require("avito-auth");
const auth = new avito.AvitoAuth({ clientId: "id", clientSecret: "secret" });
const p: Promise<avito.TokenSet> = auth.clientCredentials();
const e = new avito.ApiException("timeout", "x");
import stores = require("avito-auth/durable-object");
import redisStore = require("avito-auth/redis");
export = { auth, p, kind: e.kind, api: new avito.AccessApi(new avito.ApiClient(new avito.Configuration())), stores: [stores.DurableObjectTokenStore, redisStore.RedisTokenStore] };
