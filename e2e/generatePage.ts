// What the Generate tab's specs read off the page: the result and history regions, the first generated image, and a
// canvas's own pixels (the image as drawn, not the scaled-up screenshot).
import type { Locator, Page } from '@playwright/test';

export interface Pixels {
  width: number;
  height: number;
  data: number[];
}

export const result = (page: Page) => page.getByTestId('result');
export const history = (page: Page) => page.getByRole('region', { name: 'History' });
export const firstImage = (page: Page) => result(page).getByRole('img', { name: /^Generated image 1 of/ });

/** The RGBA pixels of a canvas the page drew (the image itself, not the scaled-up screenshot). */
export function pixelsOf(canvas: Locator): Promise<Pixels> {
  return canvas.evaluate((element) => {
    const c = element as HTMLCanvasElement;
    const image = c.getContext('2d')!.getImageData(0, 0, c.width, c.height);
    return { width: image.width, height: image.height, data: Array.from(image.data) };
  });
}
