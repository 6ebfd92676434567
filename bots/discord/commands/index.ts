/** Every command the bot registers and handles. */
import type { MessageCommand, SlashCommand } from '../context.ts';
import { animate } from './animate.ts';
import { animateContext } from './animate-context.ts';
import { jobs } from './jobs.ts';
import { queue } from './queue.ts';

export const slashCommands: readonly SlashCommand[] = [animate, queue, jobs];
export const messageCommands: readonly MessageCommand[] = [animateContext];
