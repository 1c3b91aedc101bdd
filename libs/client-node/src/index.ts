// @chorus/client-node: the Node-only half of the client SDK (disk access), kept out of the browser build.
export { buildManifest, diskSource, ignoreMatcher, sha256File, writeFiles, type BuildManifestOptions } from './file-sync-node';
