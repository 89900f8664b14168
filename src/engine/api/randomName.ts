// The name dockerd gives a service created without one (daemon/cluster/convert/service.go's ServiceSpecToGRPC
// calls namesgenerator): `<adjective>_<surname of a notable scientist or hacker>`, as `docker run` names a
// container. Some of namesgenerator's words, drawn again once when the first draw names a service that exists
// (dockerd does not look, and swarmkit then refuses the name as taken).

const ADJECTIVES = [
  'admiring', 'affectionate', 'agitated', 'amazing', 'angry', 'awesome', 'blissful', 'bold', 'brave', 'charming',
  'clever', 'compassionate', 'competent', 'confident', 'cool', 'dazzling', 'determined', 'eager', 'ecstatic',
  'elegant', 'epic', 'exciting', 'focused', 'friendly', 'funny', 'gallant', 'gifted', 'goofy', 'happy', 'hopeful',
  'inspiring', 'jolly', 'keen', 'kind', 'laughing', 'loving', 'magical', 'modest', 'nice', 'nifty', 'nostalgic',
  'objective', 'optimistic', 'peaceful', 'pensive', 'practical', 'quirky', 'relaxed', 'romantic', 'serene',
  'sharp', 'silly', 'sleepy', 'stoic', 'strange', 'sweet', 'tender', 'trusting', 'upbeat', 'vibrant', 'vigilant',
  'wizardly', 'wonderful', 'youthful', 'zealous', 'zen',
];

const SURNAMES = [
  'albattani', 'allen', 'archimedes', 'babbage', 'banach', 'bardeen', 'bell', 'bhabha', 'bose', 'cannon', 'curie',
  'darwin', 'dijkstra', 'einstein', 'euclid', 'euler', 'fermat', 'feynman', 'galileo', 'gauss', 'goldberg',
  'hamilton', 'hopper', 'hypatia', 'johnson', 'kepler', 'knuth', 'lamport', 'lovelace', 'mccarthy', 'meitner',
  'morse', 'newton', 'noether', 'pascal', 'ritchie', 'shannon', 'thompson', 'torvalds', 'turing', 'wozniak', 'yonath',
];

function pick(words: readonly string[]): string {
  return words[Math.floor(Math.random() * words.length)]!;
}

export function randomName(taken: (name: string) => boolean): string {
  const name = `${pick(ADJECTIVES)}_${pick(SURNAMES)}`;
  return taken(name) ? `${pick(ADJECTIVES)}_${pick(SURNAMES)}` : name;
}
