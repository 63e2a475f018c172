// Where objects go on the 32x32 canvas, and which sizes and positions can share it without overlapping.
//
// A position is an anchor (the centre of a quadrant, or of the canvas); an object of a size covers a square box of
// EXTENT[size] pixels around its anchor, moved by a jitter of at most one pixel in x and y. Every shape fills its
// box's full width and height, so boxes are the conservative test: two objects do not overlap when their boxes are
// MIN_GAP pixels apart along x or along y. A pair of (size, position) slots is compatible when some jitter of
// the two keeps that gap and both boxes on the canvas. With these numbers the incompatible pairs are exactly
// "same position" and "a large object at the center, or a small one there next to a large one":
//   small quadrant [4, 12] vs small centre [12, 20]: gap 0, fixed by jittering one of them apart;
//   large quadrant [1, 15] vs small centre: overlap 3, no jitter fixes it; large centre [9, 23] overlaps every quadrant.
// Large is 14 px rather than 16 so that a large object keeps a 1-px margin inside its 16-px quadrant, which makes room
// for the jitter and keeps two large neighbours 2 px apart.
import { POSITIONS, type Position, SIZES, type Size } from './shapes';

export const CANVAS = 32;
export const EXTENT: Readonly<Record<Size, number>> = { small: 8, large: 14 };
export const MIN_GAP = 1;
export const MAX_JITTER = 1;

export const ANCHOR: Readonly<Record<Position, readonly [x: number, y: number]>> = {
  'top left': [8, 8],
  'top right': [24, 8],
  'bottom left': [8, 24],
  'bottom right': [24, 24],
  center: [16, 16],
};

/** A size at a position, before jitter. */
export interface Slot {
  size: Size;
  position: Position;
}

/** A slot with its jittered centre. */
export interface Placement extends Slot {
  centerX: number;
  centerY: number;
}

export interface Box {
  left: number;
  top: number;
  right: number;
  bottom: number;
}

export function boxOf(placement: Placement): Box {
  const half = EXTENT[placement.size] / 2;
  return {
    left: placement.centerX - half,
    top: placement.centerY - half,
    right: placement.centerX + half,
    bottom: placement.centerY + half,
  };
}

export function separated(a: Box, b: Box): boolean {
  const gapX = Math.max(a.left - b.right, b.left - a.right);
  const gapY = Math.max(a.top - b.bottom, b.top - a.bottom);
  return Math.max(gapX, gapY) >= MIN_GAP;
}

function onCanvas(box: Box): boolean {
  return box.left >= 0 && box.top >= 0 && box.right <= CANVAS && box.bottom <= CANVAS;
}

export const SLOTS: readonly Slot[] = SIZES.flatMap((size) => POSITIONS.map((position) => ({ size, position })));

const JITTERS: readonly (readonly [number, number])[] = (() => {
  const offsets: [number, number][] = [];
  for (let dy = -MAX_JITTER; dy <= MAX_JITTER; dy++) for (let dx = -MAX_JITTER; dx <= MAX_JITTER; dx++) offsets.push([dx, dy]);
  return offsets;
})();

const placementCache = new Map<string, readonly Placement[][]>();

/**
 * Every jittered placement of these slots (one Placement per slot, in order) that stays on the canvas and keeps
 * the objects apart. Empty when the slots are incompatible. Cached: there are only 10 slots and 100 ordered pairs.
 */
export function placementsOf(slots: readonly Slot[]): readonly Placement[][] {
  const key = slots.map((s) => `${s.size}@${s.position}`).join('|');
  const cached = placementCache.get(key);
  if (cached) return cached;
  let partial: Placement[][] = [[]];
  for (const slot of slots) {
    const [x, y] = ANCHOR[slot.position];
    const next: Placement[][] = [];
    for (const placed of partial) {
      for (const [dx, dy] of JITTERS) {
        const candidate: Placement = { ...slot, centerX: x + dx, centerY: y + dy };
        const box = boxOf(candidate);
        if (onCanvas(box) && placed.every((other) => separated(boxOf(other), box))) next.push([...placed, candidate]);
      }
    }
    partial = next;
  }
  placementCache.set(key, partial);
  return partial;
}

/** Partial constraints on a slot: what a caption states about one object's size and position. */
export interface SlotConstraint {
  size?: Size;
  position?: Position;
}

const layoutCache = new Map<string, readonly Slot[][]>();

/** All compatible slot assignments (one slot per constraint, in order) that honour the constraints. Cached. */
export function layoutsFor(constraints: readonly SlotConstraint[]): readonly Slot[][] {
  const key = constraints.map((c) => `${c.size ?? '*'}@${c.position ?? '*'}`).join('|');
  const cached = layoutCache.get(key);
  if (cached) return cached;
  let partial: Slot[][] = [[]];
  for (const constraint of constraints) {
    const candidates = SLOTS.filter(
      (slot) =>
        (constraint.size === undefined || slot.size === constraint.size) &&
        (constraint.position === undefined || slot.position === constraint.position),
    );
    partial = partial.flatMap((placed) => candidates.map((slot) => [...placed, slot]));
  }
  const layouts = partial.filter((slots) => placementsOf(slots).length > 0);
  layoutCache.set(key, layouts);
  return layouts;
}
