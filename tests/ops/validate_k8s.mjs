// Validates rendered Kubernetes objects (kubectl kustomize output) against the API's JSON
// schemas, offline: kubernetes-models (generated from the Kubernetes OpenAPI spec) for the
// built-in kinds and @kubernetes-models/cloudnative-pg (from its CRDs) for Cluster and
// ScheduledBackup. The schemas check types, enums and required fields; like the API's own
// OpenAPI v2 schema they allow unknown fields, so check_ops.py's rules catch the fields that
// matter to us. The packages are ES modules, which Node finds only next to the script: the
// test copies this file into the npm cache folder and runs it there (kustomize_test.sh).
// Usage: node <cache>/validate_k8s.mjs FILE...
import fs from "fs";
import yaml from "js-yaml";

function modulePath(apiVersion, kind) {
  const [group, version] = apiVersion.includes("/") ? apiVersion.split("/") : ["", apiVersion];
  if (group === "postgresql.cnpg.io") return `@kubernetes-models/cloudnative-pg/${apiVersion}/${kind}`;
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
