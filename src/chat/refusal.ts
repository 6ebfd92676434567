/**
 * A refusal a chat adapter or the chat core makes itself, with its message written for the user
 * (not an admin, not your job, that button is no longer valid, no picture in the message, …). The
 * message is the bot's own words: whatever user text it quotes is already escaped. Each adapter
 * shows it with its own mark (Discord 🚫, Slack ❌); every other error goes through `userError`.
 */
export class Refusal extends Error {
  override name = 'Refusal';
  readonly code: string;
  constructor(code: string, message: string) {
    super(message);
    this.code = code;
  }
}
