/** A refusal whose message is written for the user (not an admin, not your job, button no longer valid). */
export class Refusal extends Error {
  override name = 'Refusal';
  readonly code: string;
  constructor(code: string, message: string) {
    super(message);
    this.code = code;
  }
}
