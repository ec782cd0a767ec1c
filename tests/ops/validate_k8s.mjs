// Validates rendered Kubernetes objects (kubectl kustomize output) against the API's JSON
// schemas, offline: kubernetes-models (generated from the Kubernetes OpenAPI spec) for the
// built-in kinds, @kubernetes-models/cloudnative-pg and @kubernetes-models/prometheus-operator
// (from their CRDs) for Cluster, ScheduledBackup, PodMonitor and PrometheusRule. Those schemas check types, enums and required fields but, like the API's
// OpenAPI v2 schema, allow unknown fields; so every built-in object is also walked along the
// field lists of @kubernetes/client-node's generated models (from the same OpenAPI spec), and
// a field the API does not know (a typo such as `readinesProbe`) is an error, as with
// `kubectl apply --validate=strict`. The packages are ES modules, which Node finds only next to the script: the
// test copies this file into the npm cache folder and runs it there (kustomize_test.sh).
// Usage: node <cache>/validate_k8s.mjs FILE...
import fs from "fs";
import yaml from "js-yaml";
import * as clientModels from "@kubernetes/client-node";

// Fields of `value` that the model `type` (a client-node type name such as "V1PodSpec",
// "Array<V1Container>" or "{ [key: string]: string; }") does not have, as paths.
function unknownFields(value, type, path, out) {
  if (value === null || value === undefined) return out;
  const array = /^Array<(.+)>$/.exec(type);
  if (array) {
    if (Array.isArray(value)) value.forEach((v, i) => unknownFields(v, array[1], `${path}[${i}]`, out));
    return out;
  }
  const map = /^\{ \[key: string\]: (.+); \}$/.exec(type);
  if (map) {
    for (const [k, v] of Object.entries(value)) unknownFields(v, map[1], `${path}.${k}`, out);
    return out;
  }
  const model = clientModels[type];
  if (!model || typeof model.getAttributeTypeMap !== "function" || typeof value !== "object") return out;
  const fields = new Map(model.getAttributeTypeMap().map((a) => [a.baseName, a.type]));
  for (const [k, v] of Object.entries(value)) {
    if (!fields.has(k)) out.push(`${path}.${k}`);
    else unknownFields(v, fields.get(k), `${path}.${k}`, out);
  }
  return out;
}

// The client-node model of a built-in kind: V1Deployment, V2HorizontalPodAutoscaler, …
function clientModelName(apiVersion, kind) {
  const version = apiVersion.split("/").pop();
  return version.charAt(0).toUpperCase() + version.slice(1) + kind;
}

function modulePath(apiVersion, kind) {
  const [group, version] = apiVersion.includes("/") ? apiVersion.split("/") : ["", apiVersion];
  if (group === "postgresql.cnpg.io") return `@kubernetes-models/cloudnative-pg/${apiVersion}/${kind}`;
  if (group === "monitoring.coreos.com") return `@kubernetes-models/prometheus-operator/${apiVersion}/${kind}`;
  return group ? `kubernetes-models/${group}/${version}/${kind}` : `kubernetes-models/${version}/${kind}`;
}

let problems = 0;
let checked = 0;
for (const file of process.argv.slice(2)) {
  for (const obj of yaml.loadAll(fs.readFileSync(file, "utf8"))) {
    if (!obj) continue;
    const where = `${file}: ${obj.kind}/${obj.metadata && obj.metadata.name}`;
    let Model;
    try {
      Model = (await import(modulePath(obj.apiVersion, obj.kind)))[obj.kind];
    } catch (e) {
      console.log(`FAIL ${where}: no schema for ${obj.apiVersion} ${obj.kind}`);
      problems++;
      continue;
    }
    // kustomize folds long base64 values over lines; the API server's decoder skips the line
    // breaks (Go's base64.StdEncoding), the schema's "byte" pattern does not.
    if (obj.kind === "Secret" && obj.data) {
      for (const key of Object.keys(obj.data)) obj.data[key] = String(obj.data[key]).replace(/\s+/g, "");
    }
    if (!obj.apiVersion.includes(".") || obj.apiVersion.includes(".k8s.io/")) {
      const name = clientModelName(obj.apiVersion, obj.kind);
      if (!clientModels[name]) {
        console.log(`FAIL ${where}: no field list for ${obj.apiVersion} ${obj.kind} (${name})`);
        problems++;
        continue;
      }
      const unknown = unknownFields(obj, name, obj.kind, []);
      if (unknown.length) {
        console.log(`FAIL ${where}: unknown field(s) ${unknown.join(", ")}`);
        problems++;
        continue;
      }
    }
    try {
      new Model(obj).validate();
      checked++;
    } catch (e) {
      console.log(`FAIL ${where}: ${e.message}`);
      problems++;
    }
  }
}
console.log(`${checked} objects valid against the Kubernetes API schema, ${problems} problems`);
process.exit(problems ? 1 : 0);
