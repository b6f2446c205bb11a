// Apollo's own generator over our operations (each manifest.json entry is a standalone document,
// which is GraphQL Code Generator's persisted-documents format): test_apollo_manifest.py compares
// its output with clients/operations/persisted-query-manifest.json.
const path = require("node:path");
const { fromGraphQLCodegenPersistedDocuments } = require("@apollo/generate-persisted-query-manifest");

module.exports = {
  documents: fromGraphQLCodegenPersistedDocuments(
    process.env.EIC_OPERATIONS_MANIFEST ?? path.join(__dirname, "../../../clients/operations/manifest.json"),
  ),
  output: process.env.EIC_APOLLO_MANIFEST_OUTPUT ?? path.join(__dirname, "generated/persisted-query-manifest.json"),
};
