export { start, DeployerQueue, type DeployerOptions } from "./deployer.js";
export { openStores, type DeploymentStores } from "./stores.js";
export {
  currentPipeline, deployManifest, deployedManifest, publishManifestFile, setCurrentPipeline, undeploy, uploadModel,
  type PublishOptions, type PublishResult, type UploadProgress,
} from "./publish.js";
