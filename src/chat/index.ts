/** The chat layer shared by the Discord and Slack adapters; see README.md in this folder. */

export type { AdminAction, AdminAnswer, AdminRequest, AdminScope } from './admin.ts';
export { checkRange, runAdminAction } from './admin.ts';
export type { RecoveryOptions, RecoveryPlatform } from './delivery-recovery.ts';
export { DeliveryRecovery, MAX_DELIVERY_ATTEMPTS } from './delivery-recovery.ts';

export type { Credentials, DownloadErrorCode, Downloaded, DownloadOptions } from './download.ts';
export {
  DEFAULT_ATTACHMENT_HOSTS,
  DEFAULT_MAX_IMAGE_BYTES,
  DownloadError,
  downloadImage,
  formatBytes,
  isAllowedUrl,
  parseHostList,
  sniffImage,
} from './download.ts';
export type { FollowUp, Presser } from './follow-up.ts';
export { followUpOptions, newSeed, pressedJob } from './follow-up.ts';
export type { HelpTextOptions } from './help-text.ts';
export { helpText } from './help-text.ts';
export type { ModelDefaults, ParsedChatText } from './option-text.ts';
export { parseChatText, tokenize } from './option-text.ts';
export { Refusal } from './refusal.ts';
export type { Escape } from './render.ts';
export {
  formatEta,
  isFinished,
  MOTION_STEP,
  nextMotion,
  progressBar,
  renderCaption,
  renderProgress,
  renderQuota,
  verbatim,
} from './render.ts';
export { serviceModel } from './service-model.ts';
export type { ThrottleOptions, ThrottleStats } from './throttle.ts';
export { ProgressThrottle } from './throttle.ts';
export type { UserError } from './user-error.ts';
export { userError } from './user-error.ts';
export type { WatchOptions, WatchResult } from './watch-job.ts';
export { watchJob } from './watch-job.ts';
