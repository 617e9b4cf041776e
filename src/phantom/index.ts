export {
  generatePhantomClip,
  type PhantomClip,
  type PhantomClipOptions,
  type PhantomTruth,
} from './clip.ts';
export { ensurePhantomClips, type DemoClipOptions, type PhantomClipFile } from './demo-clips.ts';
export { writeVideo } from './video.ts';
export { VESSEL_ANATOMY, type VesselAnatomy } from './physiology.ts';
