/**
 * The one place that imports the CDKTF core library. CDKTF 0.21 is HashiCorp's last release;
 * moving to the community fork (CDK Terrain) means changing this file and the provider
 * package scope, nothing else.
 */
export { App, AssetType, Fn, LocalBackend, S3Backend, TerraformAsset, TerraformOutput, TerraformStack, Testing } from "cdktf";
export type { ITerraformDependable } from "cdktf";
