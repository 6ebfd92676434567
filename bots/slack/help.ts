/** `/animate help` and `@stillmotion help` on Slack: the shared option list with Slack's usage line. */
import type { OptionTable } from '@stillmotion/engine';
import { helpText } from '../../src/chat/index.ts';
import type { SlackDeps } from './context.ts';

export function slackHelp(deps: Pick<SlackDeps, 'model' | 'randomWeights'>, table?: OptionTable): string {
  return helpText(deps.model, {
    table,
    usage:
      'Use `/animate [prompt and options]` (a form opens for the picture), the message shortcut “Animate this image”, ' +
      'or mention me with a picture or in a thread under one',
    note: deps.randomWeights
      ? '_This bot runs the bundled tiny model with random weights: videos look like noise._'
      : undefined,
  });
}
