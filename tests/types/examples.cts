// The CommonJS view of the same types (require condition → index.d.cts).
import avito = require("avito-auth");
const auth = new avito.AvitoAuth({ clientId: "id", clientSecret: "secret" });
const p: Promise<avito.TokenSet> = auth.clientCredentials();
const e = new avito.ApiException("timeout", "x");
import stores = require("avito-auth/durable-object");
import redisStore = require("avito-auth/redis");
import pgStore = require("avito-auth/postgres");
import kvStore = require("avito-auth/deno-kv");
import d1Store = require("avito-auth/d1");
import testing = require("avito-auth/testing");
import otel = require("avito-auth/opentelemetry");
export = { auth, p, kind: e.kind, api: new avito.AccessApi(new avito.ApiClient(new avito.Configuration())), stores: [stores.DurableObjectTokenStore, redisStore.RedisTokenStore, pgStore.PostgresTokenStore, kvStore.DenoKvTokenStore, d1Store.D1TokenStore], kit: testing.verifyTokenStore, accounts: avito.AccountTokens, instrument: otel.instrument, renewDue: (a: InstanceType<typeof avito.AccountTokens>): Promise<avito.RenewDueResult[]> => a.renewDue(["seller-1"]) };
