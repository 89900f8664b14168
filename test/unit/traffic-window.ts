// A node's last minute per pool member (TrafficWindow): a backend's running total, written down each sample,
// less what it was a window ago; a backend newer than the window counts all it has. Driven sample by sample.
import t from 'tap';
import { Backend } from '../../src/lb/index.js';
import { TrafficWindow } from '../../src/mesh/TrafficWindow.js';
import { waitFor } from '../support/cluster.js';

t.test('counts what each backend was handed within the window, sample by sample', async (t) => {
  const window = new TrafficWindow({ windowMs: 3000, sampleMs: 1000 });
  const old = new Backend('a', '127.0.0.1', 1);
  old.total = 5;
  t.equal(window.recent(old), 5, 'never sampled: all it has (it is newer than any sample)');
  window.sample([old]);
  old.total = 8;
  window.sample([old]);
  t.equal(window.recent(old), 8, 'the window reaches back before it was first sampled: all 8');
  window.sample([old]);
  window.sample([old]);
  t.equal(window.recent(old), 3, 'three samples on, the 5 it had at the first sample are older than the window');
  old.total = 10;
  window.sample([old]);
  t.equal(window.recent(old), 2, 'and then only what came after the 8');
  window.sample([old]);
  window.sample([old]);
  window.sample([old]);
  t.equal(window.recent(old), 0, 'a window with nothing new counts nothing');

  const young = new Backend('b', '127.0.0.1', 2);
  young.total = 4;
  t.equal(window.recent(young), 4, 'one that joined within the window counts all it was handed');
  window.sample([old, young]);
  t.equal(window.recent(young), 4, 'its slots before it joined count as 0');
});

t.test('samples by itself once started', async (t) => {
  const window = new TrafficWindow({ windowMs: 20, sampleMs: 10 });
  t.teardown(() => window.stop());
  const backend = new Backend('a', '127.0.0.1', 1);
  backend.total = 7;
  let sampled = 0;
  window.start(() => {
    sampled++;
    return [backend];
  });
  await waitFor('four samples', () => sampled >= 4);
  t.equal(window.recent(backend), 0, 'after two windows of samples, the 7 are older than the window');
});
