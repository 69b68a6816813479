export { start, type DeployerOptions } from "./deployer.js";
export { openDeploymentStores as openStores, type DeploymentStores } from "@ferry/runtime";
export {
  currentPipeline, deployManifest, deployedManifest, deployedPipelines, publishManifestFile, setCurrentPipeline, undeploy, uploadModel,
  type PublishOptions, type PublishResult, type UploadProgress,
} from "./publish.js";
