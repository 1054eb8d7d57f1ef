// The CommonJS view of the scope types.
import avito = require("avito-auth");
type Equal<A, B> = (<T>() => T extends A ? 1 : 2) extends (<T>() => T extends B ? 1 : 2) ? true : false;
const proof: true = true satisfies Equal<avito.Scope, avito.AvitoScope | (string & {})>;
// @ts-expect-error "items_info" is not one of Avito's scopes
const typo: avito.AvitoScope = "items_info";
export = { proof, typo };
