// Names for containers run without --name, as Docker makes them: an adjective and a famous scientist or
// hacker (moby's namesgenerator, a shorter list), with a digit added when the pair is taken.
import { randomInt } from 'node:crypto';

const LEFT = ['admiring', 'bold', 'brave', 'clever', 'eager', 'elated', 'focused', 'gifted', 'happy', 'jolly', 'keen', 'kind', 'lucid', 'modest', 'nifty', 'quirky', 'relaxed', 'serene', 'sharp', 'tender', 'vibrant', 'wizardly', 'youthful', 'zealous'];
const RIGHT = ['babbage', 'curie', 'darwin', 'dijkstra', 'euclid', 'feynman', 'goldberg', 'hopper', 'hypatia', 'kepler', 'knuth', 'lamport', 'lovelace', 'meitner', 'noether', 'pascal', 'ritchie', 'shannon', 'thompson', 'torvalds', 'turing', 'wozniak'];

/** A name `taken` does not refuse. */
export function randomName(taken: (name: string) => boolean): string {
  for (let retry = 0; ; retry++) {
    const name = `${LEFT[randomInt(LEFT.length)]}_${RIGHT[randomInt(RIGHT.length)]}${retry > 0 ? randomInt(10) : ''}`;
    if (!taken(name)) return name;
  }
}
