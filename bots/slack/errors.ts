/** A refusal the Slack adapter itself makes (no picture in the message, …), with the exact reply. */
export class SlackUserError extends Error {
  override name = 'SlackUserError';
  readonly code: string;
  constructor(code: string, message: string) {
    super(message);
    this.code = code;
  }
}
